"""Event generation: Pythia 8 -> parametrised detector -> FastJet, one recipe per dataset."""
