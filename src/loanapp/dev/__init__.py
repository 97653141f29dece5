"""For local runs only: both services as child processes, steady traffic, and the demo."""
