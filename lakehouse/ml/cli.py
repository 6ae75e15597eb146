"""`python train_model.py`: train, evaluate, register and gate, with progress and a summary table."""

from __future__ import annotations

import logging

import typer
from rich.console import Console
from rich.table import Table

from lakehouse.logging_setup import configure_logging
from lakehouse.observability.trainer import METRICS
from lakehouse.settings import SettingsError, load_settings

console = Console()
log = logging.getLogger("lakehouse.train")


def summary_table(result: object) -> Table:
    from lakehouse.ml.train import TrainingResult

    assert isinstance(result, TrainingResult)
    table = Table("metric", "candidate", "naive baseline", "champion", title=f"price_forecaster v{result.version}")
    for metric in METRICS:
        champion = f"{result.champion[metric]:.6g}" if result.champion else "-"
        table.add_row(metric, f"{result.metrics[metric]:.6g}", f"{result.baseline[metric]:.6g}", champion)
    return table


def symbol_table(result: object) -> Table:
    """RMSE in bps and directional accuracy per symbol: where the model helps and where it does not."""
    from lakehouse.ml.train import TrainingResult

    assert isinstance(result, TrainingResult)
    table = Table("symbol", "rows", "rmse_bps", "naive rmse_bps", "R² vs naive", "direction (95 % CI)",
                  "Diebold-Mariano p", title="per symbol")  # fmt: skip
    for symbol, scores in result.by_symbol.items():
        candidate, naive, sig = scores["candidate"], scores["baseline"], scores["significance"]
        table.add_row(
            symbol, f"{candidate['rows']:.0f}", f"{candidate['rmse_bps']:.4g}", f"{naive['rmse_bps']:.4g}",
            f"{sig['r2_oos']:.3f}",
            f"{candidate['directional_accuracy']:.3f} ({sig['directional_accuracy_low']:.3f}-"
            f"{sig['directional_accuracy_high']:.3f})",
            f"{sig['dm_p_value']:.3g}",
        )  # fmt: skip
    return table


def main(
    model: str = typer.Option("gbt", help="Regressor: gbt (gradient-boosted trees) or linear."),
    min_train_rows: int = typer.Option(500, help="Refuse to train on less labelled history than this."),
) -> None:
    """Train the price forecaster on silver history, log it to MLflow, and move @champion only if it wins."""
    configure_logging()
    if model not in ("gbt", "linear"):
        raise typer.BadParameter("expected gbt or linear", param_hint="--model")
    try:
        settings = load_settings()
    except SettingsError as error:
        console.print(f"[red]{error}[/]")
        raise typer.Exit(2) from error
    from lakehouse.ml.train import NotEnoughHistoryError, train
    from lakehouse.observability.trainer import training_metrics
    from lakehouse.spark.session import build_spark

    with console.status("starting Spark") as status:
        spark = build_spark(settings, app_name="train_model")

        def progress(message: str) -> None:
            status.update(message)
            log.info(message)

        try:
            with training_metrics(settings) as metrics:
                result = train(
                    spark, settings, kind=model, min_train_rows=min_train_rows,  # type: ignore[arg-type]
                    progress=metrics.wrap(progress),
                )  # fmt: skip
                metrics.record(result)
        except NotEnoughHistoryError as error:
            console.print(f"[yellow]not enough history:[/] {error}")
            raise typer.Exit(3) from error
    console.print(summary_table(result))
    console.print(symbol_table(result))
    verdict = "[green]promoted to @champion[/]" if result.decision.promote else "[yellow]registered, not promoted[/]"
    console.print(f"{verdict}: {result.decision.reason}  (run {result.run_id})")


def run() -> None:
    typer.run(main)


if __name__ == "__main__":
    run()
