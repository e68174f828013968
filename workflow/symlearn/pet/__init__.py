"""The PET family (through metatrain): its data views (the geometric targets, the
memory-mapped training format), the edge-embedding variants, training with O(3)
augmentation and resume, the checkpoint loader, the adapter that feeds the symmetry
core rotated copies of structures, and readout purification. It imports no other
family; the shared pieces (symmetry core, tables, errors, io, config) sit beside it."""
