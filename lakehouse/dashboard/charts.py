"""Plotly figures for the dashboard (frames in, figures out)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

PREDICTION_COLOR = "rgba(255, 165, 0, 1)"
BAND_COLOR = "rgba(255, 165, 0, 0.18)"


def candles_figure(symbol: str, candles: pd.DataFrame, predictions: pd.DataFrame, horizon_s: int) -> go.Figure:
    """1-minute candlesticks with the model's forecast (mean line, min..max band) at the minute it forecasts."""
    figure = go.Figure()
    figure.add_trace(
        go.Candlestick(
            x=candles["bucket_start"],
            open=candles["open"],
            high=candles["high"],
            low=candles["low"],
            close=candles["close"],
            name=f"{symbol} 1m",
        )
    )
    if not predictions.empty:
        figure.add_trace(
            go.Scatter(
                x=pd.concat([predictions["bucket_start"], predictions["bucket_start"][::-1]]),
                y=pd.concat([predictions["predicted_high"], predictions["predicted_low"][::-1]]),
                fill="toself",
                fillcolor=BAND_COLOR,
                line={"width": 0},
                hoverinfo="skip",
                name="prediction range",
            )
        )
        figure.add_trace(
            go.Scatter(
                x=predictions["bucket_start"],
                y=predictions["predicted"],
                mode="lines",
                line={"color": PREDICTION_COLOR, "width": 1.5},
                name=f"predicted ({horizon_s} s ahead)",
            )
        )
    figure.update_layout(
        height=460,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        xaxis_rangeslider_visible=False,
        legend={"orientation": "h", "y": 1.08},
        uirevision=symbol,  # keep the user's zoom across auto-refreshes
    )
    return figure


def accuracy_figure(accuracy: pd.DataFrame) -> go.Figure:
    figure = go.Figure()
    for version, rows in accuracy.sort_values("hour_start").groupby("model_version"):
        figure.add_trace(go.Scatter(x=rows["hour_start"], y=rows["mae"], mode="lines+markers", name=f"v{version}"))
    figure.update_layout(height=240, margin={"l": 10, "r": 10, "t": 30, "b": 10}, yaxis_title="MAE per hour")
    return figure


def depth_figure(symbol: str, bids: pd.DataFrame, asks: pd.DataFrame) -> go.Figure:
    """The current book as a depth chart: cumulative quantity from the best bid down and the best ask up."""
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=bids["price"], y=bids["cumulative"], name="bids", line_shape="hv",
                                fill="tozeroy", line={"color": "rgba(38, 166, 91, 1)"}))  # fmt: skip
    figure.add_trace(go.Scatter(x=asks["price"], y=asks["cumulative"], name="asks", line_shape="hv",
                                fill="tozeroy", line={"color": "rgba(214, 69, 65, 1)"}))  # fmt: skip
    figure.update_layout(title=f"{symbol} order book (top levels)", xaxis_title="price",
                         yaxis_title="cumulative quantity", height=320, margin={"t": 40, "b": 30})  # fmt: skip
    return figure


def spread_figure(seconds: pd.DataFrame) -> go.Figure:
    figure = go.Figure(go.Scatter(x=seconds["book_time"], y=seconds["spread_bps"], name="spread (bps)"))
    figure.update_layout(title="Spread per second (bps of the mid)", height=260, margin={"t": 40, "b": 30})
    return figure
