package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/IBM/sarama"
)

// InitGroup makes cfg.Group a subscription of cfg.Topics before any of its
// members joins: for every partition on which the group has no committed
// offset, it commits the partition's newest offset (or its oldest, with
// Config.InitialOffset "oldest"). The group then receives every record
// produced from now on, however late its first member starts; without it,
// a group with InitialOffset "newest" starts at the newest offset of when
// it first joins. Partitions with a committed offset are left alone, so
// calling it again is harmless. It returns once the coordinator has the
// offsets.
func InitGroup(ctx context.Context, cfg Config, opts ...Option) error {
	cfg, err := prepare(cfg)
	if err != nil {
		return err
	}
	if cfg.Group == "" || len(cfg.Topics) == 0 {
		return errors.New("kafka: InitGroup: KAFKA_GROUP and KAFKA_TOPICS are required")
	}
	client, sc, err := connect(ctx, cfg, applyOptions(opts))
	if err != nil {
		return err
	}
	defer client.Close()
	req := sarama.NewOffsetCommitRequest(sc, cfg.Group)
	type tp struct {
		topic string
		part  int32
		off   int64
	}
	var set []tp
	for _, topic := range cfg.Topics {
		if err := checkTopic(client, topic); err != nil {
			return fmt.Errorf("kafka: InitGroup %q: %w", cfg.Group, err)
		}
		parts, err := client.Partitions(topic)
		if err != nil {
			return fmt.Errorf("kafka: InitGroup %q: topic %q: %w", cfg.Group, topic, err)
		}
		for _, p := range parts {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("kafka: InitGroup %q: %w", cfg.Group, err)
			}
			got, err := fetchCommitted(client, sc, cfg.Group, topic, p)
			if err != nil {
				return fmt.Errorf("kafka: InitGroup %q: committed offset of %s/%d: %w", cfg.Group, topic, p, err)
			}
			if got >= 0 {
				continue
			}
			off, err := client.GetOffset(topic, p, sc.Consumer.Offsets.Initial)
			if err != nil {
				return fmt.Errorf("kafka: InitGroup %q: offset of %s/%d: %w", cfg.Group, topic, p, err)
			}
			req.AddBlock(topic, p, off, 0, "")
			set = append(set, tp{topic, p, off})
		}
	}
	if len(set) == 0 {
		return nil
	}
	coord, err := client.Coordinator(cfg.Group)
	if err != nil {
		return fmt.Errorf("kafka: InitGroup %q: coordinator: %w", cfg.Group, err)
	}
	resp, err := coord.CommitOffset(req)
	if err != nil {
		return fmt.Errorf("kafka: InitGroup %q: commit: %w", cfg.Group, err)
	}
	for _, x := range set {
		if kerr, ok := resp.Errors[x.topic][x.part]; !ok || !errors.Is(kerr, sarama.ErrNoError) {
			return fmt.Errorf("kafka: InitGroup %q: commit %s/%d at %d: %v", cfg.Group, x.topic, x.part, x.off, kerr)
		}
	}
	return nil
}
