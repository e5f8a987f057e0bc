# AMIs for the production web stack. Only bake promote --to prod (approved) and bake rollback write web_ami.
web_ami = {
  us-east-1 = "ami-00000000000000000"
  eu-west-1 = "ami-00000000000000000"
}

instance_count = 6
