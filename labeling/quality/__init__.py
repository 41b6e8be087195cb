"""Quality figures of the data and of the models, as pure functions over plain values (no
Django): inter-annotator agreement, a model leaderboard, and chart geometry for the dashboard.
The selectors in labeling.selectors.quality read the rows and call these."""
