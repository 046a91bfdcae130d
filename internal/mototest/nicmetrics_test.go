package mototest_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/dxmon/dxmon/internal/mototest"
)

// TestProxyNICMetrics: a metrics Run Command fails as curl does where no
// service was started, prints DefaultNICMetrics where one was, and then
// what SetNICMetrics staged; other commands keep moto's answer.
func TestProxyNICMetrics(t *testing.T) {
	t.Parallel()
	p := mototest.SharedProxy(t)
	ctx := context.Background()
	cfg := p.Config(t)
	ec, sm := ec2.NewFromConfig(cfg), ssm.NewFromConfig(cfg)
	run, err := ec.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-12c6146b"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(run.Instances[0].InstanceId)
	command := func(lines ...string) *ssm.GetCommandInvocationOutput {
		t.Helper()
		out, err := sm.SendCommand(ctx, &ssm.SendCommandInput{DocumentName: aws.String("AWS-RunShellScript"), InstanceIds: []string{id},
			Parameters: map[string][]string{"commands": lines}})
		if err != nil {
			t.Fatal(err)
		}
		inv, err := sm.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: out.Command.CommandId, InstanceId: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		return inv
	}
	metrics := "curl -sf http://127.0.0.1:9102/metrics | grep '^dxmon_nic_'"
	if inv := command(metrics); inv.Status != ssmtypes.CommandInvocationStatusFailed || inv.ResponseCode != 7 {
		t.Errorf("metrics with no service running: %s exit %d, want Failed exit 7 (connection refused)", inv.Status, inv.ResponseCode)
	}
	command("systemctl restart dxappliance")
	if inv := command(metrics); inv.Status != ssmtypes.CommandInvocationStatusSuccess || aws.ToString(inv.StandardOutputContent) != mototest.DefaultNICMetrics {
		t.Errorf("metrics with the service running: %s %q", inv.Status, aws.ToString(inv.StandardOutputContent))
	}
	staged := mototest.NICAllowanceLines("ens5", 1, 2, 3, 4, 5)
	p.SetNICMetrics(id, staged)
	if inv := command(metrics); aws.ToString(inv.StandardOutputContent) != staged {
		t.Errorf("staged metrics: %q, want %q", aws.ToString(inv.StandardOutputContent), staged)
	}
	if inv := command("true"); aws.ToString(inv.StandardOutputContent) != "" || inv.Status != ssmtypes.CommandInvocationStatusSuccess {
		t.Errorf("another command: %s %q, want moto's empty success", inv.Status, aws.ToString(inv.StandardOutputContent))
	}
}
