"""Analysis methods: take tensors, arrays or a model, never a chapter-specific object."""
