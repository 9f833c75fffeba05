"""The MiDaS v2.1 small model and everything to run it: weights, network, transforms, predictor, fast backend, inference gate."""
