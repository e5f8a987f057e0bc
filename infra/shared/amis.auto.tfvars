/* Shared images, pinned by bake */
base_ami = {
  us-east-1 = "ami-00000000000000000"
  eu-west-1 = "ami-00000000000000000"
}
