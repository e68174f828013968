"""What every family's analysis shares: the tidy per-input rows, their pooling into
the per-checkpoint tables, the quadrature check, and collecting the tables of every
checkpoint (the columns are in :mod:`symlearn.table_schemas`)."""
