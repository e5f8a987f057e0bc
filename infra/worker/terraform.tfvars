# Worker stack
worker_ami   = "ami-00000000000000000"
worker_count = 2
