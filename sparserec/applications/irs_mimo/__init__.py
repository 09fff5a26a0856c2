"""IRS-aided MIMO channel estimation: channel simulator, pilot design, Kronecker measurement model, estimators, metrics."""
