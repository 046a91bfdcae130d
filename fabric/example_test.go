package fabric_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/dxmon/dxmon/fabric"
)

// Plan, apply and verify the whole pipeline, as dxdeploy does.
func Example() {
	ctx := context.Background()
	conf, err := fabric.LoadConfig("config/dx-monitor.conf")
	if err != nil {
		log.Fatal(err) // one line naming the bad key
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(conf.Region))
	if err != nil {
		log.Fatal(err)
	}
	d, err := fabric.New(conf, fabric.NewClients(awsCfg), fabric.Options{
		Observer: func(e fabric.Event) { fmt.Println(e) }, // "02 created gwlb-endpoint dx-monitoring-gwlbe-subnet-… vpce-…"
	})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := d.Plan(ctx); err != nil { // create / exists / change, no mutating call
		log.Fatal(err)
	}
	if err := d.Apply(ctx); err != nil { // stages 00–08; safe to run again
		log.Fatal(err)
	}
	checks, err := d.Verify(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, c := range checks {
		fmt.Println(c) // "PASS mirror 2 ENIs, 2 sessions, 0 packets not mirrored"
	}
}

// A missing key fails before any AWS call, naming the key.
func ExampleParseConfig() {
	_, err := fabric.ParseConfig(map[string]string{"AWS_REGION": "us-east-1", "VPC_ID": "vpc-1"})
	fmt.Println(err)
	// Output: VPC_CIDR is missing
}

// The mirror filter: one inbound rule for the Geneve the GWLB sends the
// appliances (UDP, protocol 17, to port 6081, from and to the VPC), so each
// packet is mirrored once; the probes select on-prem traffic inside it.
func ExampleDeployer_FilterRules() {
	conf, err := fabric.ParseConfig(map[string]string{
		"AWS_REGION": "us-east-1", "VPC_ID": "vpc-1", "VPC_CIDR": "10.0.0.0/16", "VGW_ID": "vgw-1",
		"ONPREM_CIDRS": "172.16.0.0/12,192.168.0.0/16", "WORKLOAD_SUBNETS": "subnet-1", "GWLBE_SUBNETS": "subnet-2",
		"BUSINESS_SUBNET_CIDRS": "10.0.1.0/24",
	})
	if err != nil {
		log.Fatal(err)
	}
	d, err := fabric.New(conf, fabric.NewClients(aws.Config{}), fabric.Options{})
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range d.FilterRules() {
		fmt.Println(r)
	}
	// Output:
	// ingress 100 accept udp 10.0.0.0/16→10.0.0.0/16:6081
}

// The environment file stage 08 writes for dxprobe (and stage 02 for
// dxappliance): systemd EnvironmentFile syntax, sorted, quoted.
func ExampleEnvFile() {
	os.Stdout.Write(fabric.EnvFile(map[string]string{"VPC_ID": "vpc-0123", "ONPREM_CIDRS": "172.16.0.0/12,192.168.0.0/16", "MIRROR_VNI": "12345"}))
	// Output:
	// # written by dxdeploy from dx-monitor.conf; replaced on every deployment
	// MIRROR_VNI="12345"
	// ONPREM_CIDRS="172.16.0.0/12,192.168.0.0/16"
	// VPC_ID="vpc-0123"
}
