"""A small declarative mechanism for libvirt XML, after virtinst's XMLBuilder.

Each libvirt element is one `XMLObject` subclass that declares its tag and, in
output order, its properties (`Prop`) and child lists (`Children`). The same
declarations serve `to_xml()` and `parse()`, so a round trip of the declared
properties is exact. The classes hold no policy and make no libvirt calls:
choices live in `backends.libvirt.designer`.
"""
from lxml import etree


class DevError(Exception):
    """A programming error in a declaration (raised at import time)."""


def _yesno(value):
    return "yes" if value else "no"


def _onoff(value):
    return "on" if value else "off"


# Converters: (python -> text, text -> python).
TYPES = {
    str: (str, str),
    int: (str, int),
    "yesno": (_yesno, lambda text: text == "yes"),
    "onoff": (_onoff, lambda text: text == "on"),
}
PRESENT = "present"     # an empty element whose presence means True


class Prop:
    """An attribute (`a/b/@name`) or an element's text (`a/b`).

    Args:
        path: slash-separated element path relative to the owner, ending in
            `@attr` for an attribute; "." is the owner itself.
        kind: str, int, "yesno", "onoff" or PRESENT.
    """

    def __init__(self, path, kind=str):
        if kind not in TYPES and kind != PRESENT:
            raise DevError(f"unknown property kind {kind!r}")
        self.path, self.kind = path, kind
        steps = path.split("/")
        self.attr = steps[-1][1:] if steps[-1].startswith("@") else None
        self.elements = [s for s in (steps[:-1] if self.attr else steps) if s != "."]

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        return obj.__dict__.get(self.name)

    def __set__(self, obj, value):
        obj.__dict__[self.name] = value

    def write(self, root, value):
        if self.kind == PRESENT:
            if value:
                _ensure(root, self.elements)
            return
        node = _ensure(root, self.elements)
        text = TYPES[self.kind][0](value)
        if self.attr:
            node.set(self.attr, text)
        else:
            node.text = text

    def read(self, root):
        node = root.find("/".join(self.elements)) if self.elements else root
        if self.kind == PRESENT:
            return node is not None
        if node is None:
            return None
        text = node.get(self.attr) if self.attr else node.text
        return None if text is None else TYPES[self.kind][1](text.strip())


class Children:
    """A list of child `XMLObject`s below an element path ("." for direct)."""

    def __init__(self, cls, path="."):
        self.cls, self.path = cls, path
        self.elements = [s for s in path.split("/") if s != "."]

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        return obj.__dict__.setdefault(self.name, [])

    def __set__(self, obj, value):
        obj.__dict__[self.name] = list(value)

    def write(self, root, values):
        parent = _ensure(root, self.elements)
        for child in values:
            parent.append(child.to_element())

    def read(self, root):
        parent = root.find("/".join(self.elements)) if self.elements else root
        if parent is None:
            return []
        return [self.cls.from_element(e) for e in parent.findall(self.cls.TAG)]


def _ensure(root, elements):
    """Return the element at `elements` below root, creating missing steps."""
    node = root
    for tag in elements:
        child = node.find(tag)
        node = child if child is not None else etree.SubElement(node, tag)
    return node


class XMLObject:
    """Base of every config class: declare TAG, then Props/Children in order."""

    TAG = None
    NSMAP = None        # {prefix: uri} for a namespaced TAG

    def __init__(self, **values):
        fields = self.fields()
        for name, value in values.items():
            if name not in fields:
                raise DevError(f"{type(self).__name__} has no property {name!r}")
            setattr(self, name, value)

    @classmethod
    def fields(cls):
        """Return the declared properties and child lists in output order."""
        found = {}
        for klass in reversed(cls.__mro__):
            for name, value in vars(klass).items():
                if isinstance(value, (Prop, Children)):
                    found[name] = value
        return found

    def to_element(self):
        root = etree.Element(self.TAG, nsmap=self.NSMAP)
        for name, field in self.fields().items():
            value = getattr(self, name)
            if value is not None and value != []:
                field.write(root, value)
        return root

    def to_xml(self):
        """Serialise to the indented text libvirt and the fixtures see."""
        element = self.to_element()
        etree.indent(element, space="  ")
        return etree.tostring(element, encoding="unicode") + "\n"

    @classmethod
    def from_element(cls, element):
        obj = cls()
        for name, field in cls.fields().items():
            obj.__dict__[name] = field.read(element)
        return obj

    @classmethod
    def parse(cls, text):
        """Build an object from libvirt's XML; undeclared content is dropped."""
        return cls.from_element(etree.fromstring(text.encode() if isinstance(text, str) else text))

    def __repr__(self):
        return f"<{type(self).__name__} {self.to_xml()!r}>"
