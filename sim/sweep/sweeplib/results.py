"""The results file: JSON Lines, one record per finished task, appended and flushed (and
fsynced) the moment it arrives, so a sweep killed at any point loses nothing recorded and
--resume knows what is left. A last line cut short by a kill is dropped when the file is
opened again."""
import json
import os


class ResultsFile:
    def __init__(self, path):
        self.path = path
        self.records = []
        self.ids = set()
        if os.path.exists(path):
            self._load()

    def _load(self):
        good = 0
        with open(self.path, "rb") as f:
            data = f.read()
        for line in data.splitlines(keepends=True):
            try:
                record = json.loads(line)
            except ValueError:
                break  # a line the last writer did not finish: drop it and what follows
            if not line.endswith(b"\n"):
                break
            good += len(line)
            if record["id"] not in self.ids:
                self.ids.add(record["id"])
                self.records.append(record)
        if good < len(data):
            with open(self.path, "r+b") as f:
                f.truncate(good)

    def add(self, record):
        """Appends `record` unless its task is recorded already; returns whether it did."""
        if record["id"] in self.ids:
            return False
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        with open(self.path, "a") as f:
            f.write(json.dumps(record, separators=(",", ":")) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.ids.add(record["id"])
        self.records.append(record)
        return True
