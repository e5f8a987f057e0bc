# The images this stack runs in prod, pinned by bake promote --to prod (after a day in dev and a
# named approval): base_ami is added by bake; comments and everything else stay as you write them.
