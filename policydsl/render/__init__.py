"""Back ends for reviewers: decision-tree diagrams and the static review site."""
