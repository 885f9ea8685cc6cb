"""Settings of the example project: no database, templates only."""

import os

BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Development defaults: set DJANGO_SECRET_KEY and DJANGO_DEBUG=0 in
# production.
SECRET_KEY = os.environ.get('DJANGO_SECRET_KEY',
                            'example-only-not-secret-change-me')
DEBUG = os.environ.get('DJANGO_DEBUG', '1') == '1'
ALLOWED_HOSTS = os.environ.get('DJANGO_ALLOWED_HOSTS',
                               '127.0.0.1,localhost').split(',')

INSTALLED_APPS = ['chatsite']
MIDDLEWARE = [
    'django.middleware.security.SecurityMiddleware',
    'django.middleware.common.CommonMiddleware',
    'django.middleware.clickjacking.XFrameOptionsMiddleware',
]
ROOT_URLCONF = 'chatsite.urls'
TEMPLATES = [{
    'BACKEND': 'django.template.backends.django.DjangoTemplates',
    'DIRS': [os.path.join(BASE_DIR, 'templates')],
    'APP_DIRS': False,
    'OPTIONS': {},
}]
WSGI_APPLICATION = 'chatsite.wsgi.application'
DATABASES = {}
USE_TZ = True
