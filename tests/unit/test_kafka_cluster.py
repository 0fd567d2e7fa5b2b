"""The 3-broker layout without starting it: each node's identity and quorum, the replication its brokers
default to, the topics planned for a cluster's size, and the bootstrap list every process derives."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from core.settings import KafkaSettings, StackSettings, load_settings
from core.topics import min_insync_for, planned_topics, replication_for
from deploy.local.kafka import KafkaBroker, replication_properties
from deploy.local.kafka_cluster import KafkaCluster


def properties(lines: list[str]) -> dict[str, str]:
    return dict(line.split("=", 1) for line in lines)


def test_a_cluster_node_knows_itself_and_all_three_voters(tmp_path: Path) -> None:
    cluster = KafkaCluster(
        cluster_dir=tmp_path, cache_dir=tmp_path / "cache", ports=[(9192, 9292), (9193, 9293), (9194, 9294)], heap="1g"
    )
    assert cluster.bootstrap_servers == "127.0.0.1:9192,127.0.0.1:9193,127.0.0.1:9194"
    second = properties(cluster.nodes[1].node_properties())
    assert second["node.id"] == "2"
    assert second["controller.quorum.voters"] == "1@127.0.0.1:9292,2@127.0.0.1:9293,3@127.0.0.1:9294"
    assert second["listeners"] == "PLAINTEXT://127.0.0.1:9193,CONTROLLER://127.0.0.1:9293"
    assert second["advertised.listeners"] == "PLAINTEXT://127.0.0.1:9193"
    assert second["default.replication.factor"] == "3"
    assert second["min.insync.replicas"] == "2"
    assert [node.home for node in cluster.nodes] == [tmp_path / f"node-{i}" for i in (1, 2, 3)]
    assert len({node.pid_file for node in cluster.nodes}) == 3


def test_three_brokers_replicate_internal_topics_three_times_and_one_broker_once(tmp_path: Path) -> None:
    three = properties(replication_properties(3))
    assert three["offsets.topic.replication.factor"] == "3"
    assert three["transaction.state.log.replication.factor"] == "3"
    assert three["transaction.state.log.min.isr"] == "2"
    assert three["share.coordinator.state.topic.replication.factor"] == "3"
    one = properties(
        KafkaBroker(
            state_dir=tmp_path, cache_dir=tmp_path, port=9092, controller_port=9093, heap="1g"
        ).node_properties()
    )
    assert one["controller.quorum.voters"] == "1@127.0.0.1:9093"
    assert one["offsets.topic.replication.factor"] == "1"
    assert one["min.insync.replicas"] == "1"


def test_topics_follow_the_cluster_size_unless_a_replication_factor_is_set() -> None:
    kafka = KafkaSettings(topic_prefix="p")
    on_one = planned_topics(kafka, brokers=1)
    on_three = planned_topics(kafka, brokers=3)
    assert {t.replication_factor for t in on_one} == {1}
    assert all("min.insync.replicas" not in t.topic_configs for t in on_one)
    assert {t.replication_factor for t in on_three} == {3}
    assert {t.topic_configs["min.insync.replicas"] for t in on_three} == {"2"}
    assert [t.name for t in on_one] == [t.name for t in on_three]
    assert replication_for(kafka, 5) == 3  # more brokers spread partitions, not more copies
    assert replication_for(KafkaSettings(replication_factor=2), 3) == 2
    assert (min_insync_for(1), min_insync_for(2), min_insync_for(3)) == (1, 1, 2)


def test_the_bootstrap_list_names_every_broker_of_the_layout(monkeypatch: pytest.MonkeyPatch) -> None:
    assert StackSettings(kafka_port=19092).kafka_bootstrap == "127.0.0.1:19092"
    cluster = StackSettings(kafka_brokers=3, kafka_cluster_port=29192, kafka_cluster_controller_port=29292)
    assert cluster.kafka_bootstrap == "127.0.0.1:29192,127.0.0.1:29193,127.0.0.1:29194"
    assert cluster.cluster_ports() == [(29192, 29292), (29193, 29293), (29194, 29294)]
    assert cluster.cluster_dir == cluster.state_dir / "kafka-cluster"
    with pytest.raises(ValidationError, match="1 or 3"):
        StackSettings(kafka_brokers=2)
    monkeypatch.setenv("WEARSTREAM_KAFKA_BROKERS", "3")
    monkeypatch.setenv("WEARSTREAM_KAFKA_CLUSTER_PORT", "39192")
    monkeypatch.delenv("WEARSTREAM_KAFKA_BOOTSTRAP_SERVERS", raising=False)
    assert load_settings().kafka.bootstrap_servers == "127.0.0.1:39192,127.0.0.1:39193,127.0.0.1:39194"
