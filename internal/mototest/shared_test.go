package mototest_test

import (
	"context"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/dxmon/dxmon/internal/mototest"
)

// TestSharedProxyAccountsApart: proxies on the shared servers act in
// accounts of their own (STS says so), and none sees another's VPC. Five
// proxies on at most four servers: two of them share one.
func TestSharedProxyAccountsApart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	proxies := map[string]*mototest.MirrorProxy{}
	for range 5 {
		p := mototest.SharedProxy(t)
		if _, dup := proxies[p.Account()]; dup || p.Account() == mototest.DefaultAccount {
			t.Fatalf("account %s given twice or the default %s", p.Account(), mototest.DefaultAccount)
		}
		proxies[p.Account()] = p
	}
	vpcs := map[*mototest.MirrorProxy]string{}
	for _, p := range proxies {
		cfg := p.Config(t)
		id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatalf("GetCallerIdentity through %s: %v", p.URL, err)
		}
		if got := aws.ToString(id.Account); got != p.Account() {
			t.Errorf("GetCallerIdentity through the proxy of %s = account %s", p.Account(), got)
		}
		vpc, err := ec2.NewFromConfig(cfg).CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16"),
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeVpc,
				Tags: []ec2types.Tag{{Key: aws.String("test"), Value: aws.String(t.Name())}}}}})
		if err != nil {
			t.Fatalf("CreateVpc in %s: %v", p.Account(), err)
		}
		vpcs[p] = aws.ToString(vpc.Vpc.VpcId)
	}
	for p, own := range vpcs {
		out, err := ec2.NewFromConfig(p.Config(t)).DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []ec2types.Filter{
			{Name: aws.String("tag:test"), Values: []string{t.Name()}}}})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, v := range out.Vpcs {
			got = append(got, aws.ToString(v.VpcId))
		}
		if len(got) != 1 || got[0] != own {
			t.Errorf("account %s sees tagged VPCs %v, want only its own %s", p.Account(), got, own)
		}
	}
}

// TestMain stops the shared servers of TestSharedProxyAccountsApart.
func TestMain(m *testing.M) {
	code := m.Run()
	mototest.StopShared()
	os.Exit(code)
}
