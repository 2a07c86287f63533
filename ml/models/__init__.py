"""Network definitions and their predictors, one module per model family."""
