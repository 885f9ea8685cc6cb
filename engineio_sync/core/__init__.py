"""The sans-IO protocol core: codecs, handshake parsing, session state."""
