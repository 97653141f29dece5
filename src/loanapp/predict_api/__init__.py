"""The external predict API: validated predictions from the model the model server names."""
