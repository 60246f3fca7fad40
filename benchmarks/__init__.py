"""Speed and scale benchmarks of cisim against a plain-Mesa reference (see README.md)."""
