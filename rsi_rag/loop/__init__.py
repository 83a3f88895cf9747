"""The learning loop: collect, synthesize, train, evaluate, gate, promote."""
