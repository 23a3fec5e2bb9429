"""A small lexicon of skills and tools with their aliases: "k8s" is Kubernetes, "ReactJS" React.

``find_skills(text)`` returns the canonical names of the lexicon's skills a text mentions;
matching is on lowercase word boundaries, and a trailing version ("Python 3", "HTML5",
"Angular 2+") is part of the mention. The lexicon is hand-written from the skill names of job
ads and CVs (common languages, frameworks, databases, clouds, tools, methods); a term outside
it is still matched by lemmas and sentence embeddings, just not by name.
"""

from __future__ import annotations

import re
from functools import lru_cache

# canonical name -> aliases (lowercase; the canonical name itself is always an alias)
SKILLS: dict[str, tuple[str, ...]] = {
    "Python": ("python3", "py"),
    "Java": ("java se", "java ee", "j2ee", "jee", "core java"),
    "JavaScript": ("js", "ecmascript", "es6", "vanilla js"),
    "TypeScript": ("ts",),
    "C++": ("cpp",),
    "C#": ("csharp", "c sharp"),
    ".NET": ("dotnet", "asp.net", ".net core"),
    "Go": ("golang",),
    "Rust": (),
    "Ruby": ("ruby on rails", "rails"),
    "PHP": ("laravel",),
    "Kotlin": (),
    "Swift": (),
    "Scala": (),
    "R": ("r language",),
    "SQL": ("t-sql", "pl/sql", "sql server", "structured query language"),
    "NoSQL": ("no-sql",),
    "MySQL": (),
    "PostgreSQL": ("postgres", "psql"),
    "Oracle": ("oracle db", "oracle database"),
    "MongoDB": ("mongo",),
    "Redis": (),
    "Elasticsearch": ("elastic search", "elk"),
    "HTML": ("html5", "web markup"),
    "CSS": ("css3", "scss", "sass", "less"),
    "React": ("react.js", "reactjs", "react js", "react native"),
    "Redux": (),
    "Angular": ("angular.js", "angularjs", "angular js"),
    "Vue": ("vue.js", "vuejs", "vue js", "nuxt"),
    "jQuery": (),
    "Node.js": ("node", "nodejs", "node js"),
    "Express": ("express.js", "expressjs"),
    "Django": (),
    "Flask": (),
    "FastAPI": (),
    "Spring": ("spring boot", "spring mvc", "spring framework"),
    "Hibernate": ("jpa", "jpa2", "orm"),
    "GraphQL": (),
    "REST APIs": ("rest", "restful", "restful apis", "rest api", "restful services", "apis", "api"),
    "Microservices": ("microservice", "micro-services"),
    "Webpack": ("babel", "vite", "build pipelines", "build tools"),
    "Git": ("github", "gitlab", "bitbucket", "version control", "code versioning"),
    "Docker": ("containers", "containerization"),
    "Kubernetes": ("k8s", "kubectl", "helm", "eks", "gke", "aks"),
    "Terraform": ("infrastructure as code", "iac"),
    "CI/CD": ("ci", "cd", "continuous integration", "continuous delivery", "jenkins",
              "github actions", "gitlab ci"),
    "AWS": ("amazon web services", "ec2", "s3", "lambda"),
    "Azure": ("microsoft azure",),
    "Google Cloud": ("gcp", "google cloud platform", "firebase"),
    "Linux": ("unix", "bash", "shell scripting"),
    "Machine Learning": ("ml", "machine-learning", "predictive models", "predictive modeling"),
    "Deep Learning": ("neural networks", "deep neural networks"),
    "NLP": ("natural language processing",),
    "TensorFlow": ("keras",),
    "PyTorch": ("torch",),
    "scikit-learn": ("sklearn", "scikit learn"),
    "Pandas": ("numpy",),
    "Data Analysis": ("data analytics", "analytics", "data visualization", "statistics"),
    "Spark": ("pyspark", "apache spark", "hadoop"),
    "Kafka": ("apache kafka", "kinesis", "pub/sub"),
    "Airflow": ("apache airflow", "dagster", "prefect"),
    "dbt": ("data build tool",),
    "Snowflake": ("bigquery", "redshift", "databricks"),
    "Jira": ("confluence",),
    "Agile": ("scrum", "kanban", "agile methodologies", "sprint planning"),
    "Test-Driven Development": ("tdd", "test driven development", "unit testing", "unit tests",
                                "junit", "jest", "pytest", "mockito"),
    "UI/UX": ("ux", "ui", "user experience", "user interface", "user interfaces", "ux design",
              "ui design", "responsive design", "web design"),
    "Product Management": ("product manager", "product strategy", "product roadmap", "roadmap",
                           "mrd", "mrds", "prd", "prds"),
    "Project Management": ("project manager", "pmp", "prince2"),
    "Leadership": ("team leadership", "team lead", "led a team", "leading a team",
                   "managed a team", "people management", "mentoring"),
    "Communication": ("communication skills", "verbal communication", "written communication",
                      "presentation skills"),
    "Excel": ("microsoft excel", "spreadsheets"),
    "Tableau": ("power bi",),
    "Figma": ("sketch", "adobe xd"),
    "SEO": ("search engine optimization",),
}  # fmt: skip
# Skill names that are also ordinary words: they count only when capitalised ("React").
ORDINARY_WORDS = frozenset(
    {"go", "rust", "swift", "less", "node", "rest", "lambda", "react", "spring", "express",
     "oracle", "excel", "sketch", "torch", "helm", "containers", "analytics", "statistics"}
)  # fmt: skip
# A version after a mention: "Python 3", "HTML5", "Angular 2+", "Java SE 8", "ES6+".
_VERSION = r"(?:\s?v?\d+(?:\.\d+)*\+?)?"


@lru_cache(maxsize=1)
def _lexicon() -> tuple[re.Pattern, dict[str, str], dict[str, int]]:
    """One regex over every alias (longest first), alias -> skill, skill -> lexicon order."""
    owner = {}
    for name, aliases in SKILLS.items():
        for term in (name.lower(), *aliases):
            owner.setdefault(term, name)
    body = "|".join(re.escape(t) for t in sorted(owner, key=len, reverse=True))
    pattern = re.compile(rf"(?<![\w.+#/-])(?P<alias>{body}){_VERSION}(?![\w+#-])", re.I)
    return pattern, owner, {name: i for i, name in enumerate(SKILLS)}


def find_skills(text: str) -> list[str]:
    """The canonical names of the lexicon's skills that ``text`` mentions, in lexicon order.

    Short, ambiguous aliases ("r", "go", "ts", "ci", "ui", "py", "ml") count only when written
    in capitals as in the lexicon (a lone "R", "Go", "ML"), never as ordinary words; so do
    skills that are also ordinary words ("React", not "react to").
    """
    pattern, owner, order = _lexicon()
    found = set()
    for match in pattern.finditer(text):
        mention = match.group(0).strip()
        if len(mention.rstrip("0123456789.+ ")) <= 2 and mention.islower():
            continue  # "r", "go", "ui" in running text
        if mention.lower() in ORDINARY_WORDS and not mention[0].isupper():
            continue  # the ordinary words
        found.add(owner[match.group("alias").lower()])
    return sorted(found, key=order.get)


def all_terms() -> list[str]:
    """Every canonical name and alias: never personal data (the redactor's allow list)."""
    terms = set()
    for name, aliases in SKILLS.items():
        terms.add(name)
        terms.update(aliases)
    return sorted(terms)
