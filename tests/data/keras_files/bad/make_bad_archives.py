"""Writes the malformed .keras archives of tests/io/test_keras_archive.cpp from a real archive.

Run from this directory: python3 make_bad_archives.py. Input: ../archives/2shakilrafi__autoencoder.keras
(Keras 3.4.1, stored members). Outputs:
  autoencoder_deflated.keras  the same members DEFLATE-compressed (Python's zipfile, as a user re-zipping an
                              archive makes it): a reader must accept it
  bomb_declared_4gib.keras    the same, but config.json's declared uncompressed size is 0xFFFFFFF0 in both its
                              local header and the central directory: a reader must refuse it before inflating
"""
import struct
import zipfile

SOURCE = "../archives/2shakilrafi__autoencoder.keras"

with zipfile.ZipFile(SOURCE) as src:
    members = [(info.filename, src.read(info.filename)) for info in src.infolist()]

for name in ("autoencoder_deflated.keras", "bomb_declared_4gib.keras"):
    with zipfile.ZipFile(name, "w", compression=zipfile.ZIP_DEFLATED) as out:
        for member, data in members:
            out.writestr(zipfile.ZipInfo(member, date_time=(1980, 1, 1, 0, 0, 0)), data,
                         compress_type=zipfile.ZIP_DEFLATED)

data = bytearray(open("bomb_declared_4gib.keras", "rb").read())
target = b"config.json"
patched = 0
for signature, size_offset, name_offset in ((b"PK\x03\x04", 22, 30), (b"PK\x01\x02", 24, 46)):
    at = data.find(signature)
    while at != -1:
        name_length = struct.unpack_from("<H", data, at + name_offset - (4 if signature == b"PK\x03\x04" else 18))[0]
        name = bytes(data[at + name_offset:at + name_offset + name_length])
        if name == target:
            struct.pack_into("<I", data, at + size_offset, 0xFFFFFFF0)
            patched += 1
        at = data.find(signature, at + 4)
assert patched == 2, patched
open("bomb_declared_4gib.keras", "wb").write(bytes(data))
