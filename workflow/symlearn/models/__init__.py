"""Models the project implements itself (PoLAr-MAE); PET comes from metatrain."""
