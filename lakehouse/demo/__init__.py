"""`lakehouse demo`: the whole platform on this machine, as supervised local processes."""

from lakehouse.demo.run import run_demo

__all__ = ["run_demo"]
