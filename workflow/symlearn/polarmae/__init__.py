"""The PoLAr-MAE family: the liquid-argon events (simulator, PILArNet-M reader, split
manifests, preprocessing), the point grouping and the model, pre-training and
fine-tuning with augmentation and resume, the checkpoint format and loader, and the
adapter that feeds the symmetry core rotated copies of events. It imports no other
family; the shared pieces (symmetry core, tables, errors, io, config) sit beside it."""
