"""Network edges: servers and clients that speak a device protocol."""
