"""The local runner's AWS stand-ins: object store, model archive loading, Batch Transform emulation."""
