"""The session host: opens conversations over a transport and carries out the core's actions.

No audio devices and no terminal here: the terminal app (`runner/run/`) and the server
edges build on this package.
"""
