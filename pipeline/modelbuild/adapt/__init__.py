"""Site adaptation: fine-tune the shipped detector on a hospital's own labelled notes.

``corpus`` reads the site's notes and maps its labels; ``split`` holds out whole patients; ``lexicon``
mines the site's staff names and facility abbreviations into a policy file's deny list; ``weights`` turns
the shipped int8 model back into trainable weights; ``build`` runs the adaptation and ``curve`` measures
its learning curve by cross-validation over patients.
"""
