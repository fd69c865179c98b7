"""The dependency direction of DESIGN.md: a module never imports a higher layer."""

import ast
from pathlib import Path

import headstart

SOURCE = Path(headstart.__file__).parent
LAYERS = {  # lower number = lower layer
    "exceptions": 1,
    "registry": 1,
    "cards": 1,
    "progress": 1,
    "filenames": 1,
    "output": 1,
    "vector_index": 1,
    "json_files": 1,
    "extras": 1,
    "datasets": 2,
    "store": 2,
    "heads": 2,
    "index": 2,
    "openset": 3,
    "quality": 3,
    "encoders": 3,
    "mil": 3,
    "attributions": 3,
    "slides": 3,  # readers, tissue, patch grids, heat-map painting
    "prompt_learning": 3,  # learned prompts through a frozen text encoder
    "adapt": 3,
    "embedding": 4,
    "workflow": 4,
    "report": 4,
    "protocol": 4,
    "persistence": 4,
    "prompts": 4,
    "bench": 4,  # a grid of protocol runs; the api hands it the store builder
    "api": 5,
    "cli": 6,
    "service": 6,
    "scale": 4,  # an engine `api` dispatches to (`--engine ray`), so below it
}
FRONT_ENDS = {"cli", "service"}


def layer_of(module: str) -> str:
    return module.split(".")[1] if module.startswith("headstart.") else ""


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return {m for m in found if m.startswith("headstart.")}


def test_every_package_module_has_a_layer():
    tops = {
        p.stem if p.is_file() else p.name
        for p in SOURCE.iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").exists()
    }
    assert tops <= set(LAYERS), f"assign a layer to {sorted(tops - set(LAYERS))}"


def test_lower_layers_never_import_higher_ones():
    problems = []
    for path in SOURCE.rglob("*.py"):
        relative = path.relative_to(SOURCE.parent).with_suffix("")
        own = layer_of(".".join(relative.parts))
        if not own:
            continue
        for target in imports(path):
            other = layer_of(target)
            if other and other != own and LAYERS[other] > LAYERS[own]:
                problems.append(f"{relative} ({own}) imports {target} ({other})")
            starts_service = own == "cli" and other == "service"  # `headstart serve`
            if own in FRONT_ENDS and other not in ("api", "exceptions", own) and not starts_service:
                problems.append(f"{relative}: front ends import only api and exceptions")
    assert not problems, "\n".join(problems)


def test_no_module_is_over_400_lines():
    """One concept per file: a module past 400 lines is split before it lands."""
    long = {
        str(path.relative_to(SOURCE)): n
        for path in SOURCE.rglob("*.py")
        if (n := len(path.read_text().splitlines())) > 400
    }
    assert not long, long
