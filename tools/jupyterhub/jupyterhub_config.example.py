"""An example jupyterhub_config.py for a lowbit class: every student and instructor is a Unix user.

Copy it to /etc/jupyterhub/jupyterhub_config.py on the hub machine, set the names below, and start
`jupyterhub -f /etc/jupyterhub/jupyterhub_config.py` as root. What it sets up:

- users log in with their Unix accounts (PAM) and each gets a JupyterLab server as that user;
- nbgrader's exchange: one shared folder (EXCHANGE) that the instructor releases into and collects
  from, and students fetch from and submit into, with the course id "lowbit";
- nbgrader's JupyterLab extensions by role: students get the Assignments list (fetch, submit,
  fetch feedback) and Validate; instructors also get Formgrader, Courses and Create Assignment.

The single-user environment needs the course's packages: on the hub machine,
`pip install -c constraints.txt ".[course]"` from the course checkout (or from the student bundle
made by `make release`), plus `pip install jupyterhub` (same version as the hub).
"""

import json
import os

c = get_config()  # noqa: F821 (JupyterHub injects it)

COURSE_ID = "lowbit"
EXCHANGE = "/srv/nbgrader/exchange"    # shared by every user of this hub
INSTRUCTORS = {"instructor1"}          # Unix user names allowed to release, collect and grade
COURSE_ROOT = "/home/instructor1/lowbit"  # the instructors' checkout of the course repository
ROLES_DIR = "/etc/jupyter-lowbit"      # written below: one Jupyter config folder per role

c.JupyterHub.authenticator_class = "jupyterhub.auth.PAMAuthenticator"
c.JupyterHub.spawner_class = "jupyterhub.spawner.LocalProcessSpawner"
c.Authenticator.allow_all = True       # or list the class: c.Authenticator.allowed_users = {...}
c.Authenticator.admin_users = set(INSTRUCTORS)
c.Spawner.default_url = "/lab"

# nbgrader's lab extensions (JupyterLab page config) and server extensions, per role.
LAB = {
    "student": {"@jupyter/nbgrader:formgrader": True, "@jupyter/nbgrader:course-list": True,
                "@jupyter/nbgrader:create-assignment": True},
    "instructor": {},
}
SERVER = {
    "student": {"nbgrader.server_extensions.formgrader": False, "nbgrader.server_extensions.course_list": False,
                "nbgrader.server_extensions.assignment_list": True, "nbgrader.server_extensions.validate_assignment": True},
    "instructor": {"nbgrader.server_extensions.formgrader": True, "nbgrader.server_extensions.course_list": True,
                   "nbgrader.server_extensions.assignment_list": True, "nbgrader.server_extensions.validate_assignment": True},
}
NBGRADER = {
    "student": f"""c = get_config()
c.CourseDirectory.course_id = {COURSE_ID!r}
c.Exchange.root = {EXCHANGE!r}
""",
    # the course's own nbgrader_config.py (solutions/, lessons/, grader/, gradebook), then the exchange
    "instructor": f"""c = get_config()
load_subconfig("nbgrader_config.py", path={COURSE_ROOT!r})
c.CourseDirectory.course_id = {COURSE_ID!r}
c.Exchange.root = {EXCHANGE!r}
""",
}


def write_roles(roles_dir: str = ROLES_DIR) -> None:
    """One Jupyter config folder per role (JUPYTER_CONFIG_DIR of that role's servers)."""
    for role in ("student", "instructor"):
        folder = os.path.join(roles_dir, role)
        os.makedirs(os.path.join(folder, "labconfig"), exist_ok=True)
        with open(os.path.join(folder, "labconfig", "page_config.json"), "w") as f:
            json.dump({"disabledExtensions": LAB[role]}, f, indent=1)
        with open(os.path.join(folder, "jupyter_server_config.json"), "w") as f:
            json.dump({"ServerApp": {"jpserver_extensions": SERVER[role]}}, f, indent=1)
        with open(os.path.join(folder, "nbgrader_config.py"), "w") as f:
            f.write(NBGRADER[role])
        os.chmod(folder, 0o755)


def prepare() -> None:
    """The role folders and the exchange, (re)written by the hub (root) before a server starts."""
    write_roles()
    os.makedirs(EXCHANGE, exist_ok=True)
    os.chmod(EXCHANGE, 0o777)  # nbgrader makes the course's inbound/outbound/feedback folders inside


def pick_role(spawner) -> None:
    if os.geteuid() == 0:
        prepare()
    role = "instructor" if spawner.user.name in INSTRUCTORS else "student"
    spawner.environment["JUPYTER_CONFIG_DIR"] = os.path.join(ROLES_DIR, role)


c.Spawner.pre_spawn_hook = pick_role
