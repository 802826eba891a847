"""Event generation: Pythia 8 (``pythia``) -> the parametrised detector (``detector``, with the Level-1 jet
finder of ``trigger``) -> FastJet and the substructure ``features``, one recipe per dataset (``recipes``)."""
