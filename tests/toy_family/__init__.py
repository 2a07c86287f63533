"""A toy model family kept outside Coloria's tree, as a third party's would be: three files
(catalogue, model, trainer) and nothing of Coloria edited. Loaded with
COLORIA_EXTRA_CATALOGUES=tests.toy_family.catalogue (or the `toy_family` fixture).

Its model is a real (tiny) network; its `seconds` parameter makes a run take that long, which the
tests of dead and stopped workers need: a job that is reliably still running when they act."""
