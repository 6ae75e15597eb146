"""Stand-in images for a machine that reaches package registries but no container registry.

`lakehouse images build` makes Debian base images (bases), the pinned Go binaries (go_tools) and
the stand-ins of the third-party compose images (standins); docker-compose.airgap.yaml swaps them in.
"""
