"""LiDAR and video scenes through the official client (both lines): appended through the
signed-URL job, listed, read by reference id and by an item, metadata merged, deleted with
their items; a scene dataset refuses plain appends' scenes elsewhere."""

from __future__ import annotations

import pytest

from tests.conftest import Account

pytestmark = pytest.mark.live


def test_lidar_and_video_scenes_round_trip(nucleus, manager: Account) -> None:
    got = nucleus(
        manager.key,
        """
from nucleus import DatasetItem, Frame, LidarScene, VideoScene, CuboidAnnotation, Point3D
ds = client.create_dataset("drives", is_scene=True)
def frame(scene, i):
    return Frame(
        lidar=DatasetItem(pointcloud_location=f"https://x.example/{scene}/{i}.json",
                          reference_id=f"{scene}-pc-{i}"),
        front=DatasetItem(image_location=f"https://x.example/{scene}/{i}.jpg",
                          reference_id=f"{scene}-cam-{i}"),
    )
lidar = LidarScene(reference_id="drive-1", frames=[frame("d1", 0), frame("d1", 1)],
                   metadata={"weather": "rain"})
job = ds.append([lidar], asynchronous=True)
job.sleep_until_complete(verbose_std_out=False)
video = VideoScene(reference_id="clip-1", frame_rate=5, metadata={"city": "x"},
                   items=[DatasetItem(image_location=f"https://x.example/v/{i}.jpg",
                                      reference_id=f"clip-1-{i}") for i in range(3)])
vjob = ds.append([video], asynchronous=True)
vjob.sleep_until_complete(verbose_std_out=False)
ds.annotate([CuboidAnnotation(label="car", position=Point3D(1, 2, 3),
                              dimensions=Point3D(4, 2, 1.5), yaw=0.1,
                              reference_id="d1-pc-1", annotation_id="c1")])
listed = sorted((s["reference_id"], s["type"]) for s in ds.scenes)
scene = ds.get_scene("drive-1")
by_item = ds.get_scene_from_item_ref_id("d1-cam-1")
clip = ds.get_scene("clip-1")
ds.update_scene_metadata({"drive-1": {"daytime": True}})
size_before = ds.size
ds.delete_scene("clip-1")
result = {
    "statuses": [job.status()["status"], vjob.status()["status"],
                 job.job_type if hasattr(job, "job_type") else None],
    "listed": listed,
    "frames": [sorted(f.items.keys()) for f in scene.get_frames()],
    "pc": scene.get_frame(1).items["lidar"].pointcloud_location,
    "by_item": by_item.reference_id,
    "clip": [clip.frame_rate, [i.reference_id for i in clip.items]],
    "meta": [s["metadata"] for s in ds.scenes if s["reference_id"] == "drive-1"][0],
    "sizes": [size_before, ds.size],
    "cuboid": ds.refloc("d1-pc-1")["annotations"]["cuboid"][0].position.z,
}
""",
    )
    assert got["statuses"][:2] == ["Completed", "Completed"]
    assert got["listed"] == [["clip-1", "VideoScene"], ["drive-1", "LidarScene"]]
    assert got["frames"] == [["front", "lidar"], ["front", "lidar"]]
    assert got["pc"] == "https://x.example/d1/1.json"
    assert got["by_item"] == "drive-1"
    assert got["clip"] == [5, ["clip-1-0", "clip-1-1", "clip-1-2"]]
    assert got["meta"] == {"weather": "rain", "daytime": True}
    assert got["sizes"] == [7, 4]
    assert got["cuboid"] == 3


def test_0_18_sync_append_scenes_and_refusals(nucleus, nucleus_line: str, manager: Account) -> None:
    if nucleus_line != "0.18":
        pytest.skip("append_scenes(asynchronous=False) is 0.18's deprecated sync path")
    got = nucleus(
        manager.key,
        """
from nucleus import DatasetItem, Frame, LidarScene
def scene(ref, n):
    return LidarScene(reference_id=ref, frames=[
        Frame(lidar=DatasetItem(pointcloud_location=f"https://x.example/{ref}/{i}.json",
                                reference_id=f"{ref}-{i}")) for i in range(n)])
ds = client.create_dataset("sync scenes", is_scene=True)
first = ds.append_scenes([scene("a", 2)], asynchronous=False)
again = ds.append_scenes([scene("a", 2)], asynchronous=False)
flat = client.create_dataset("flat", is_scene=False)
try:
    client.make_request({"scenes": [scene("b", 1).to_payload()], "update": False},
                        f"{flat.id}/upload_scenes")
    refused = "accepted"
except nucleus.errors.NucleusAPIError as error:
    refused = error.status_code
result = {"first": first, "again": again, "refused": refused, "size": ds.size}
""",
    )
    assert got["first"]["new_scenes"] == 1
    assert got["again"]["ignored_scenes"] == 1
    assert got["refused"] == 400
    assert got["size"] == 2
