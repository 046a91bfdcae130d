#!/usr/bin/env python3
"""Create, in the moto_server that AWS_ENDPOINT_URL names, a VPC like a
customer's (two AZs, each with a workload, a GWLB endpoint and a business
subnet with its own route table, and an attached VGW) and print the dx-monitor.conf that describes
it. For dxdeploy's quick start; needs boto3, which moto[server] installs."""
import os
import boto3

ec2 = boto3.client("ec2", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ.get("AWS_REGION", "us-east-1"))
vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]


def subnet(cidr, az):
    return ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=az)["Subnet"]["SubnetId"]


wa, wb = subnet("10.0.1.0/24", "us-east-1a"), subnet("10.0.2.0/24", "us-east-1b")
ga, gb = subnet("10.0.11.0/24", "us-east-1a"), subnet("10.0.12.0/24", "us-east-1b")
ba, bb = subnet("10.0.21.0/24", "us-east-1a"), subnet("10.0.22.0/24", "us-east-1b")
vgw = ec2.create_vpn_gateway(Type="ipsec.1")["VpnGateway"]["VpnGatewayId"]
ec2.attach_vpn_gateway(VpcId=vpc, VpnGatewayId=vgw)
# Each business subnet has its own route table (RETURN_ROUTES changes only
# such tables, never the main one), sending on-prem traffic to the VGW.
for b in (ba, bb):
    rt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=rt, SubnetId=b)
    ec2.create_route(RouteTableId=rt, DestinationCidrBlock="172.16.0.0/12", GatewayId=vgw)
print(f"""AWS_REGION=us-east-1
VPC_ID={vpc}
VPC_CIDR=10.0.0.0/16
VGW_ID={vgw}
ONPREM_CIDRS=172.16.0.0/12,192.168.0.0/16
WORKLOAD_SUBNETS={wa},{wb}
GWLBE_SUBNETS={ga},{gb}
BUSINESS_SUBNET_CIDRS=10.0.21.0/24,10.0.22.0/24
PROJECT_TAG=dx-quickstart""")
