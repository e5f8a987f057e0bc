# AMIs for the web stack. bake pins web_ami; everything else here is ours.
web_ami = {
  us-east-1 = "ami-00000000000000000" # replaced by bake pin
  eu-west-1 = "ami-00000000000000000"
}

instance_count = 3 // scaled by hand
