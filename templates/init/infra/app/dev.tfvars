# The images this stack runs in dev, pinned by bake (bake build, bake pin): base_ami is added and
# kept up to date by bake; comments and everything else in this file stay as you write them.
