"""A playbook drawn as a PNG flow diagram: the image a pack ships in ``doc_files/`` beside each playbook.

The server shows a playbook as boxes at the positions stored in each task's ``view``; the diagram keeps those positions,
so it looks like the playbook editor's canvas: one box per task, coloured by kind (start, section title, condition,
sub-playbook, command or script), arrows for ``nexttasks`` with the branch label of conditions. An arrow that skips
tasks in the same column is routed round the column's right side in its own lane, so it never crosses the boxes.

Drawn with Pillow and its bundled font, so the same YAML gives the same picture on every machine with the pinned
Pillow. ``xsoar-local playbook image`` writes one image or the images of every pack playbook.
"""
from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

BOX_W, BOX_H = 190, 64
MARGIN = 40
LANE_GAP = 14
FONT_SIZE = 13
LABEL_SIZE = 11
BACKGROUND = (250, 250, 252)
LINE = (110, 116, 130)
TEXT = (30, 33, 40)
# Fill and outline per task kind.
COLOURS = {
    'start': ((214, 240, 221), (58, 150, 92)),
    'title': ((58, 66, 84), (58, 66, 84)),
    'condition': ((255, 238, 209), (214, 140, 32)),
    'playbook': ((232, 224, 248), (118, 86, 186)),
    'regular': ((221, 234, 250), (62, 118, 196)),
}


@dataclass(frozen=True)
class Box:
    """A task's box on the canvas (top-left corner and size, in pixels)."""
    task_id: str
    kind: str
    label: str
    x: int
    y: int

    @property
    def centre_x(self) -> int:
        return self.x + BOX_W // 2

    @property
    def bottom(self) -> int:
        return self.y + BOX_H

    @property
    def right(self) -> int:
        return self.x + BOX_W


def _label(task: dict) -> str:
    """What the box says: the task's name, or what it runs when it has none."""
    body = task.get('task') or {}
    if task.get('type') == 'start':
        return 'Playbook triggered'
    name = body.get('name') or body.get('playbookName') or body.get('scriptName') or body.get('script') or ''
    return str(name).strip() or f'Task {task.get("id")}'


def _kind(task: dict) -> str:
    kind = str(task.get('type') or 'regular')
    return kind if kind in COLOURS else 'regular'


def layout(playbook: dict) -> list[Box]:
    """Every task's box, at the task's stored position shifted so the diagram starts at the margin."""
    raw = []
    for task_id, task in (playbook.get('tasks') or {}).items():
        try:
            position = json.loads(task.get('view') or '{}').get('position') or {}
        except json.JSONDecodeError:
            position = {}
        raw.append((str(task_id), task, float(position.get('x', 0)), float(position.get('y', 0))))
    if not raw:
        return []
    min_x = min(x for _, _, x, _ in raw)
    min_y = min(y for _, _, _, y in raw)
    return [Box(task_id, _kind(task), _label(task), int(x - min_x) + MARGIN, int(y - min_y) + MARGIN)
            for task_id, task, x, y in raw]


def _edges(playbook: dict) -> list[tuple[str, str, str]]:
    """(source, target, label) for every arrow; ``#none#`` is an unlabelled arrow, ``#default#`` is "else"."""
    edges: list[tuple[str, str, str]] = []
    for task_id, task in (playbook.get('tasks') or {}).items():
        for label, targets in (task.get('nexttasks') or {}).items():
            shown = '' if label == '#none#' else ('else' if label == '#default#' else str(label))
            edges.extend((str(task_id), str(target), shown) for target in targets or [])
    return edges


def _is_direct(source: Box, target: Box, boxes: list[Box]) -> bool:
    """An arrow can go straight down when no other box sits between the two in the target's column."""
    if target.y <= source.y:
        return False
    top, bottom = source.bottom, target.y
    return not any(b.x < target.right and b.right > target.x and top < b.y < bottom
                   for b in boxes if b not in (source, target))


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _arrow_head(draw: ImageDraw.ImageDraw, x: int, y: int, pointing: str) -> None:
    if pointing == 'down':
        points = [(x, y), (x - 5, y - 9), (x + 5, y - 9)]
    else:  # pointing left, into a box's right side
        points = [(x, y), (x + 9, y - 5), (x + 9, y + 5)]
    draw.polygon(points, fill=LINE)


def _draw_box(draw: ImageDraw.ImageDraw, box: Box, font: ImageFont.FreeTypeFont | ImageFont.ImageFont) -> None:
    fill, outline = COLOURS[box.kind]
    shape = (box.x, box.y, box.right, box.bottom)
    if box.kind in ('start', 'title'):
        draw.rounded_rectangle(shape, radius=BOX_H // 2, fill=fill, outline=outline, width=2)
    else:
        draw.rounded_rectangle(shape, radius=8, fill=fill, outline=outline, width=2)
    colour = (255, 255, 255) if box.kind == 'title' else TEXT
    lines = textwrap.wrap(box.label, width=26)[:3] or ['']
    line_h = FONT_SIZE + 3
    top = box.y + (BOX_H - line_h * len(lines)) // 2
    for i, line in enumerate(lines):
        width = draw.textlength(line, font=font)
        draw.text((box.centre_x - width / 2, top + i * line_h), line, fill=colour, font=font)


def render(playbook: dict) -> Image.Image:
    """The playbook's diagram."""
    boxes = layout(playbook)
    by_id = {b.task_id: b for b in boxes}
    edges = [(by_id[s], by_id[t], label) for s, t, label in _edges(playbook) if s in by_id and t in by_id]
    routed = [e for e in edges if not _is_direct(e[0], e[1], boxes)]
    width = max((b.right for b in boxes), default=0) + MARGIN + LANE_GAP * (len(routed) + 1)
    height = max((b.bottom for b in boxes), default=0) + MARGIN
    image = Image.new('RGB', (max(width, 2 * MARGIN), max(height, 2 * MARGIN)), BACKGROUND)
    draw = ImageDraw.Draw(image)
    font, small = _font(FONT_SIZE), _font(LABEL_SIZE)
    lane_base = max((b.right for b in boxes), default=0)
    lane = 0
    for source, target, label in edges:
        if (source, target, label) in routed:
            lane += 1
            x_lane = lane_base + LANE_GAP * lane
            # Out of a box above its middle, into a box below it: a box that both sends and receives a routed arrow
            # keeps the two apart.
            start_y, end_y = source.y + BOX_H // 2 - 10, target.y + BOX_H // 2 + 10
            draw.line([(source.right, start_y), (x_lane, start_y), (x_lane, end_y), (target.right + 9, end_y)],
                      fill=LINE, width=2)
            _arrow_head(draw, target.right, end_y, 'left')
            label_at = (source.right + 4, start_y - LABEL_SIZE - 3)
        else:
            points = [(source.centre_x, source.bottom)]
            mid_y = (source.bottom + target.y) // 2
            if source.centre_x != target.centre_x:
                points += [(source.centre_x, mid_y), (target.centre_x, mid_y)]
            points.append((target.centre_x, target.y - 9))
            draw.line(points, fill=LINE, width=2)
            _arrow_head(draw, target.centre_x, target.y, 'down')
            label_at = (target.centre_x + 5, mid_y - LABEL_SIZE - 2 if source.centre_x != target.centre_x
                        else source.bottom + 3)
        if label:
            draw.text(label_at, label, fill=LINE, font=small)
    for box in boxes:
        _draw_box(draw, box, font)
    return image


def image_path(playbook_path: Path) -> Path:
    """Where a pack keeps a playbook's image: ``Packs/<Pack>/doc_files/<file name without "playbook-">.png``, the path
    demisto-sdk's playbook README links and its validation (RM116) looks for."""
    name = playbook_path.name.removeprefix('playbook-').removesuffix('.yml') + '.png'
    return playbook_path.parent.parent / 'doc_files' / name


def write_image(playbook: dict, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    render(playbook).save(target, format='PNG', optimize=True)
    return target
