"""Training the loan-default model: data, pipelines, evaluation and the train entry."""
