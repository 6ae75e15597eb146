"""Order books: Binance depth diffs and top-of-book updates, and the book rebuilt from them."""
