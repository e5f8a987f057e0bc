# AMIs for the staging web stack. bake promote --to staging writes web_ami; the rest is ours.
web_ami = {
  us-east-1 = "ami-00000000000000000"
  eu-west-1 = "ami-00000000000000000"
}

instance_count = 1
