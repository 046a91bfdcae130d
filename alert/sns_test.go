package alert_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/dxmon/dxmon/alert"
	"github.com/dxmon/dxmon/internal/mototest"
)

// snsRig is a topic in moto with an SQS queue subscribed to it, to read
// back what was published.
type snsRig struct {
	sns   *sns.Client
	sqs   *sqs.Client
	topic string
	queue string
}

func newSNSRig(t *testing.T, s *mototest.Server) snsRig {
	t.Helper()
	ctx := context.Background()
	cfg := s.Config(t)
	r := snsRig{sns: sns.NewFromConfig(cfg, func(o *sns.Options) { o.RetryMaxAttempts = 1 }), sqs: sqs.NewFromConfig(cfg)}
	topic, err := r.sns.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("dxmon-alerts")})
	if err != nil {
		t.Fatalf("moto: create topic: %v", err)
	}
	r.topic = aws.ToString(topic.TopicArn)
	// VisibilityTimeout 0 (SQS API Reference, CreateQueue: 0 to 43 200 s,
	// default 30): a message received stays visible until receive deletes
	// it.
	q, err := r.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("dxmon-alerts-readback"),
		Attributes: map[string]string{string(sqstypes.QueueAttributeNameVisibilityTimeout): "0"}})
	if err != nil {
		t.Fatalf("moto: create queue: %v", err)
	}
	r.queue = aws.ToString(q.QueueUrl)
	attrs, err := r.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatalf("moto: queue ARN: %v", err)
	}
	if _, err := r.sns.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"),
		Endpoint: aws.String(attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)])}); err != nil {
		t.Fatalf("moto: subscribe queue: %v", err)
	}
	return r
}

// receive reads one SNS envelope from the queue and deletes it, polling
// moto (an external process) with a deadline. The queue's visibility
// timeout is 0 (newSNSRig): a ReceiveMessage whose answer was lost on the
// way (the SDK retries "use of closed network connection",
// aws-sdk-go-v2#2737) would otherwise hide the message from the retry for
// SQS's default 30 s. A second message in the queue still shows: the
// receive returns both.
func (r snsRig) receive(t *testing.T) (subject, message string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		out, err := r.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(r.queue), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatalf("moto: receive: %v", err)
		}
		if len(out.Messages) > 1 {
			t.Fatalf("queue holds %d messages, want one", len(out.Messages))
		}
		if len(out.Messages) == 1 {
			var env struct{ Subject, Message, TopicArn string }
			if err := json.Unmarshal([]byte(aws.ToString(out.Messages[0].Body)), &env); err != nil {
				t.Fatalf("SNS envelope %q: %v", aws.ToString(out.Messages[0].Body), err)
			}
			if env.TopicArn != "" && env.TopicArn != r.topic {
				t.Errorf("envelope from topic %s, want %s", env.TopicArn, r.topic)
			}
			if _, err := r.sqs.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{
				QueueUrl: aws.String(r.queue), ReceiptHandle: out.Messages[0].ReceiptHandle}); err != nil {
				t.Fatalf("moto: delete the message read: %v", err)
			}
			return env.Subject, env.Message
		}
	}
	t.Fatal("no message reached the subscribed queue within 30s")
	return "", ""
}

func TestSNSPublishReadBackThroughSQS(t *testing.T) {
	s := mototest.Start(t)
	sr := newSNSRig(t, s)
	sink, err := alert.NewSNS(sr.sns, sr.topic)
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, alert.DispatcherConfig{}, true, sink)

	// A subject well over SNS's limit, with multi-byte characters and a
	// line break, and the formatted body of a real report.
	long := alert.Message{Kind: alert.Fire,
		Subject: "dxmon ALERT: 2.40 Gbps > 1.00 Gbps top src 10.0.1.10 (ウェブ-01)\n" + strings.Repeat("名前", 80),
		Body:    "body"}
	rep := sampleReport()
	p, _ := alert.NewPolicy(alert.Config{})
	formatted := alert.NewMessage(rep, p.Observe(rep, time.Now()), nil)

	for _, m := range []alert.Message{long, formatted} {
		r.d.Submit(m)
		r.expect("sns/sent")
		subject, message := sr.receive(t)
		wantSubject, wantMessage := alert.SNSText(m)
		if subject != wantSubject || message != wantMessage {
			t.Errorf("SNS delivered subject %q message %q,\nwant %q %q", subject, message, wantSubject, wantMessage)
		}
		if n := len([]rune(subject)); n > alert.SNSSubjectMax || strings.Contains(subject, "\n") {
			t.Errorf("subject %q: %d characters or a line break", subject, n)
		}
	}
	if _, message := alert.SNSText(formatted); !strings.Contains(message, "web-01") {
		t.Errorf("published alert does not name web-01:\n%s", message)
	}
	r.lint()
}

func TestSNSErrors(t *testing.T) {
	s := mototest.Start(t)
	sr := newSNSRig(t, s)

	// A topic that does not exist: permanent, not retried.
	missing, err := alert.NewSNS(sr.sns, strings.Replace(sr.topic, "dxmon-alerts", "no-such-topic", 1))
	if err != nil {
		t.Fatal(err)
	}
	err = missing.Send(context.Background(), msg)
	var re *alert.RetryableError
	if err == nil || errors.As(err, &re) {
		t.Errorf("publish to a missing topic = %v, want a permanent error", err)
	}

	// moto down: connection refused is retryable.
	sink, err := alert.NewSNS(sr.sns, sr.topic)
	if err != nil {
		t.Fatal(err)
	}
	s.Stop()
	err = sink.Send(context.Background(), msg)
	if !errors.As(err, &re) {
		t.Errorf("publish with moto stopped = %v, want a RetryableError", err)
	}

	if _, err := alert.NewSNS(sr.sns, "arn:aws:sqs:us-east-1:123456789012:q"); err == nil || !strings.Contains(err.Error(), "-sns-topic-arn") {
		t.Errorf("NewSNS with an SQS ARN = %v, want an error naming -sns-topic-arn", err)
	}
}
