package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/dxmon/dxmon/internal/mototest"
	"github.com/dxmon/dxmon/vxlan"
)

// slackServer records the webhook posts it receives.
type slackServer struct {
	mu    sync.Mutex
	posts []string
}

func (s *slackServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.posts = append(s.posts, string(b))
	s.mu.Unlock()
	fmt.Fprint(w, "ok")
}

func (s *slackServer) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.posts...)
}

// TestAlertEndToEnd: dxprobe with moto (EC2 for names, SNS → SQS) and a
// local Slack server; traffic over loopback above a low threshold gives
// exactly one alert per sink, naming the top source by the Name tag of its
// moto instance.
func TestAlertEndToEnd(t *testing.T) {
	t.Parallel()
	moto := mototest.Launch(t)
	cfg := moto.Config(t)
	ctx := context.Background()
	ec := ec2.NewFromConfig(cfg)
	vpc, err := ec.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.20.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	subnet, err := ec.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String("10.20.1.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	run, err := ec.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-12c6146b"), MinCount: aws.Int32(1),
		MaxCount: aws.Int32(1), SubnetId: subnet.Subnet.SubnetId, TagSpecifications: []ec2types.TagSpecification{{
			ResourceType: ec2types.ResourceTypeInstance, Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String("db-primary")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	instIP := aws.ToString(run.Instances[0].PrivateIpAddress)

	sn, sq := sns.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	topic, err := sn.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("dx-alerts")})
	if err != nil {
		t.Fatal(err)
	}
	q, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("dx-alerts-inbox")})
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := sq.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sn.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"),
		Endpoint: aws.String(attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)])}); err != nil {
		t.Fatal(err)
	}
	slack := &slackServer{}
	srv := httptest.NewServer(slack)
	defer srv.Close()

	port := freeUDPPort(t)
	p := startProbeEnv(t, mototest.Env(moto.URL), "-listen", fmt.Sprintf("127.0.0.1:%d", port), "-workers", "2", "-format", "json",
		"-window", "1s", "-metrics", "127.0.0.1:0", "-enrich-vpc", aws.ToString(vpc.Vpc.VpcId),
		"-alert-bps", "100000", "-alert-pps", "1000", "-alert-cooldown", "1h",
		"-sns-topic-arn", aws.ToString(topic.TopicArn), "-slack-webhook-url", srv.URL+"/services/T000/B000/secret")
	p.waitMetric(t, "dxmon_enrich_entries", 1) // names are loaded before the traffic

	// 3000 packets of 1500 bytes from the instance: far above 100 kbps in any window.
	spec := vxlan.Spec{VNI: 12345, Src: mustAddr(instIP), Dst: mustAddr("172.16.5.5"), Proto: vxlan.ProtoTCP,
		SrcPort: 5432, DstPort: 50000, Length: 1500, Snap: 128}
	sendSpec(t, port, spec, 3000)

	deadline := time.Now().Add(60 * time.Second)
	var msgs []sqstypes.Message
	for len(slack.got()) < 1 || len(msgs) < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("alerts: %d Slack posts, %d SNS messages after 60s\n%s", len(slack.got()), len(msgs), p.stderrText())
		}
		out, err := sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, out.Messages...)
	}
	p.stop(t) // stop first: no later window may alert again
	out, err := sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
	if err != nil {
		t.Fatal(err)
	}
	msgs = append(msgs, out.Messages...)
	if len(msgs) != 1 || len(slack.got()) != 1 {
		t.Fatalf("got %d SNS messages and %d Slack posts, want exactly one each", len(msgs), len(slack.got()))
	}
	var envelope struct{ Subject, Message string }
	if err := json.Unmarshal([]byte(aws.ToString(msgs[0].Body)), &envelope); err != nil {
		t.Fatalf("SNS envelope: %v", err)
	}
	for name, text := range map[string]string{"SNS": envelope.Message, "Slack": slack.got()[0]} {
		if !strings.Contains(text, "db-primary") || !strings.Contains(text, instIP) {
			t.Errorf("%s alert does not name the top source %s (db-primary):\n%s", name, instIP, text)
		}
	}
	if envelope.Subject == "" || len(envelope.Subject) >= 100 {
		t.Errorf("SNS subject %q: want 1 to 99 characters", envelope.Subject)
	}
	if strings.Contains(p.stderrText(), "secret") {
		t.Errorf("dxprobe logged the webhook URL:\n%s", p.stderrText())
	}
}
