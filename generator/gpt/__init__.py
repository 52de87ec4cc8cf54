"""Citewise's own small transformer: model, tokenizer, training and the generator backend."""
