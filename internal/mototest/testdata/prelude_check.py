# Answers the same requests with moto as it is and again after the
# prelude's memoize(), in one process (moto's IDs and times are random, so
# two servers cannot be compared), and prints one JSON object: the
# requests whose answers differ and how many were compared. Argument: the
# prelude's path.
import json, re, sys

prelude = {"__name__": "moto_prelude"}
exec(open(sys.argv[1]).read(), prelude)

from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.test import Client

client = Client(DomainDispatcherApplication(create_backend_app))


def call(service, body):
    headers = {
        "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/%s/aws4_request, SignedHeaders=host, Signature=x" % service,
        "Content-Type": "application/x-www-form-urlencoded",
    }
    r = client.post("/", data=body, headers=headers)
    if r.status_code != 200:
        raise SystemExit("%s %s: %d %s" % (service, body[:60], r.status_code, r.data[:300]))
    return r.data


def ec2(q):
    return call("ec2", "Version=2016-11-15&Action=" + q)


def elb(q):
    return call("elasticloadbalancing", "Version=2015-12-01&Action=" + q)


def iam(q):
    return call("iam", "Version=2010-05-08&Action=" + q)


def grab(tag, data):
    return re.search(rb"<%s>(.*?)</%s>" % (tag, tag), data).group(1).decode()


# A small world with every kind of object fabric reads.
vpc = grab(b"vpcId", ec2("CreateVpc&CidrBlock=10.0.0.0/16"))
subnet = grab(b"subnetId", ec2("CreateSubnet&VpcId=%s&CidrBlock=10.0.1.0/24&AvailabilityZone=us-east-1a" % vpc))
sg = grab(b"groupId", ec2("CreateSecurityGroup&GroupName=g&GroupDescription=d&VpcId=" + vpc))
ec2("AuthorizeSecurityGroupIngress&GroupId=%s&IpPermissions.1.IpProtocol=udp&IpPermissions.1.FromPort=4789&IpPermissions.1.ToPort=4789&IpPermissions.1.IpRanges.1.CidrIp=10.0.0.0/16" % sg)
for i in range(4):
    ec2("RunInstances&ImageId=ami-12c6146b&MinCount=1&MaxCount=1&SubnetId=%s&SecurityGroupId.1=%s"
        "&TagSpecification.1.ResourceType=instance&TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=n%d" % (subnet, sg, i))
rt = grab(b"routeTableId", ec2("CreateRouteTable&VpcId=" + vpc))
ec2("CreateRoute&RouteTableId=%s&DestinationCidrBlock=192.0.2.0/24&GatewayId=local" % rt)
ec2("AssociateRouteTable&RouteTableId=%s&SubnetId=%s" % (rt, subnet))
ec2("CreateTags&ResourceId.1=%s&Tag.1.Key=dxmon:role&Tag.1.Value=x" % rt)
tg = grab(b"TargetGroupArn", elb("CreateTargetGroup&Name=t&Protocol=GENEVE&Port=6081&VpcId=%s&TargetType=instance&HealthCheckProtocol=TCP&HealthCheckPort=80" % vpc))
lb = grab(b"LoadBalancerArn", elb("CreateLoadBalancer&Name=g&Type=gateway&Subnets.member.1=" + subnet))
elb("CreateListener&LoadBalancerArn=%s&DefaultActions.member.1.Type=forward&DefaultActions.member.1.TargetGroupArn=%s" % (lb, tg))
iam("CreateRole&RoleName=r&AssumeRolePolicyDocument=%7B%7D&Tags.member.1.Key=k&Tags.member.1.Value=v")
iam("CreateInstanceProfile&InstanceProfileName=p")
iam("AddRoleToInstanceProfile&InstanceProfileName=p&RoleName=r")

reads = [
    ("ec2", "DescribeInstances"), ("ec2", "DescribeRouteTables"), ("ec2", "DescribeVpcs"),
    ("ec2", "DescribeSubnets"), ("ec2", "DescribeSecurityGroups"), ("ec2", "DescribeTags"),
    ("ec2", "DescribeNetworkInterfaces"), ("ec2", "DescribeInstanceTypes&InstanceType.1=c6gn.2xlarge"),
    ("ec2", "DescribeInstanceStatus&IncludeAllInstances=true"),
    ("elb", "DescribeLoadBalancers"), ("elb", "DescribeTargetGroups"),
    ("elb", "DescribeListeners&LoadBalancerArn=" + lb), ("elb", "DescribeTargetGroupAttributes&TargetGroupArn=" + tg),
    ("elb", "DescribeLoadBalancerAttributes&LoadBalancerArn=" + lb), ("elb", "DescribeTags&ResourceArns.member.1=" + lb),
    ("iam", "GetRole&RoleName=r"), ("iam", "GetInstanceProfile&InstanceProfileName=p"), ("iam", "ListRoles"),
    ("ec2", "DescribeInstances&InstanceId.1=i-00000000000000000"),  # an error answer
]
do = {"ec2": ec2, "elb": elb, "iam": iam}


def answers():
    out = []
    for service, q in reads:
        try:
            data = do[service](q)
        except SystemExit as e:  # errors are answers too
            data = str(e).encode()
        out.append(re.sub(rb"<(RequestId|requestId)>[^<]*</(RequestId|requestId)>|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", b"", data))
    return out


before = answers()
prelude["memoize"]()
after, again = answers(), answers()  # memos filled, then answered from them
differ = [q for (s, q), b, a, g in zip(reads, before, after, again) if not b == a == g]
print(json.dumps({"compared": len(reads), "differ": differ, "bytes": sum(len(b) for b in before)}))
